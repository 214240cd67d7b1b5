"""Maintenance: the ledger of numbered assets, PM plans, work orders, KPIs and reports."""
