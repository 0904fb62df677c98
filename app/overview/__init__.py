"""The leaders' overview (领导驾驶舱): district-wide figures, each with the list behind it."""
