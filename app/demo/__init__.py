"""The demo district's two years of history, written through the service layer (see ``history``)."""
