"""Who the owner is and what they connected: logins and API tokens, stores, suppliers, the audit
log, key rotation.
"""
