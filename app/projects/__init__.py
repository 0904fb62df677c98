"""The project library (项目库), demand pool and approval tracker ("审批围绕项目转")."""
