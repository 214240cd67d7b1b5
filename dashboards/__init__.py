"""Dashboards: the Dash app (pages, auth, i18n). Built in the dashboard issue."""
