from datetime import date

from tally.dates import add_months, next_business_day, parse_date
from tally.textfmt import parse_csv_line, slugify, truncate


def test_dates():
    assert parse_date(" 2024-01-31 ") == date(2024, 1, 31)
    assert add_months(date(2024, 1, 31), 1) == date(2024, 2, 29)
    assert next_business_day(date(2024, 6, 7)) == date(2024, 6, 10)


def test_text():
    assert slugify("Héllo, World!") == "hello-world"
    assert truncate("abcdefgh", 6) == "abc..."
    assert parse_csv_line('a,"b,c",d') == ["a", "b,c", "d"]
