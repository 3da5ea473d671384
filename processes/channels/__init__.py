"""The channels between the customer and the complaint process.

Lives here: e-mail intake (RFC 822 / mbox into complaints and replies), outbound customer mail
(the outbox and its sender) and the customer portal's tables (tracking links, attachments,
messages, rate limits).

May import: `processes.engine` and `processes.complaints`.
"""
