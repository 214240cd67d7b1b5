"""People: users, roles and estate scopes, passwords, sessions and tokens, the audit trail.

``roles`` is the pure core (who may do what, where); ``passwords`` wraps the KDF;
``store.UserStore`` keeps users and sessions in the SQL database and writes every change
and refusal to the append-only audit trail (``audit``).
"""
