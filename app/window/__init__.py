"""The one window (综合窗口一窗受理): applications by stage, their review, joint review and documents."""
