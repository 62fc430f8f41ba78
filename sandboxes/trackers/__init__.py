"""What the tracking-service sandboxes (17TRACK, AfterShip, DHL) share: parcel lives
(`timelines`), a token bucket for rate limits, carrier detection by number shape, and the
webhook sender (`common`)."""
