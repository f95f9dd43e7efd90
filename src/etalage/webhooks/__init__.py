"""Telling the shop's messaging platform of moments (etalage.engine.moments) by webhook.

Page views and orders only enqueue, and only when a trigger fires (`outbox`); a background task
delivers (`courier`), so a slow or failing receiver never slows a page. Deliveries are signed as the
Standard Webhooks specification says (headers webhook-id, webhook-timestamp, webhook-signature), at
least once, with the webhook-id as the receiver's idempotency key: one id per moment, the same on
every attempt. A failed attempt is retried with exponential backoff from a durable queue, and after
the last attempt the entry goes to a dead-letter list that the admin page shows and staff can resend.

The queue (`queue`) is a Redis Stream with a consumer group when profiles are in Redis
(`redis_queue`), else an append-only file of JSON lines, synced on every write (`file_queue`).
"""
