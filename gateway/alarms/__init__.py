"""The alarm engine: definitions, ISA-18.2 states, journal and store, notifications."""
