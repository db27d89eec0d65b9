"""Delivery of outreach over real protocols: app push over MQTT (push.py), email over SMTP (email.py), SMS
through the bank's HTTP SMS gateway (sms.py), and the worker that claims, sends and marks (worker.py)."""
