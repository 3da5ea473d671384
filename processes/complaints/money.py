"""Amounts as customers and staff read them: ¥239.90 in Chinese, CNY 239.90 in English.

One function for every place an amount is shown (pages, e-mail, answers to the customer), so
the preview a handler sees and the text the customer gets use the same figures."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation

from babel.numbers import format_currency, format_decimal


def format_money(amount, language: str, currency: str = "CNY") -> str:
    """Two decimals always; the symbol in Chinese, the ISO code in English."""
    try:
        value = Decimal(str(amount)).quantize(Decimal("0.01"))
    except (InvalidOperation, ValueError):
        return str(amount)
    if language == "zh-CN":
        return format_currency(value, currency, locale="zh_CN")
    return f"{currency} {format_decimal(value, format='#,##0.00', locale='en')}"
