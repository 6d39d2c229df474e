"""Country codes: ISO 3166-1 alpha-2, as `pycountry` lists them."""

from __future__ import annotations

from typing import Annotated

import pycountry
from pydantic import AfterValidator, Field

# Read once, at import: workflow code validates addresses as it decodes its input, and may
# not read files then.
ALPHA_2 = frozenset(country.alpha_2 for country in pycountry.countries)


def iso_country(code: str) -> str:
    if code not in ALPHA_2:
        raise ValueError(f"{code} is not an ISO 3166-1 alpha-2 country code")
    return code


CountryCode = Annotated[
    str,
    Field(pattern=r"^[A-Z]{2}$", description="ISO 3166-1 alpha-2, e.g. US, GB, DE"),
    AfterValidator(iso_country),
]
