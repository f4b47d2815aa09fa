"""Sizes for people: bytes as B / KiB / MiB / GiB (the report's object sizes, the full-disk message)."""


def fmt_bytes(n):
    """'512 B', '2.0 KiB', '3.8 MiB', '1.2 GiB'; '-' for an unknown size (None)."""
    if n is None:
        return "-"
    n = float(n)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if n < 1024 or unit == "GiB":
            return f"{int(n)} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} GiB"
