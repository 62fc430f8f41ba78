"""Tracking services (17TRACK, ...): a third kind of external system beside stores and
suppliers. Each service is a package of the same shape (settings, client, mapper, units)
behind the interface in `connectors.tracking.base`."""
