"""The mainland-China working-day calendar (public holidays and 调休 make-up working days)."""
