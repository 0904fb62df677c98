"""The request edge: what every request must satisfy before a route sees it."""
