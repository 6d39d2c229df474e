"""The custom search attributes operators filter on in the Web UI."""

from temporalio.common import SearchAttributeKey

ORDER_STATUS = SearchAttributeKey.for_keyword("OrderStatus")
ORDER_TYPE = SearchAttributeKey.for_keyword("OrderType")
CUSTOMER_ID = SearchAttributeKey.for_keyword("CustomerId")
ORDER_TOTAL = SearchAttributeKey.for_int("OrderTotal")
FLOW_VERSION = SearchAttributeKey.for_int("FlowVersion")
NEEDS_REVIEW = SearchAttributeKey.for_bool("NeedsReview")
REVIEW_ESCALATED = SearchAttributeKey.for_bool("ReviewEscalated")

ALL = (
    ORDER_STATUS,
    ORDER_TYPE,
    CUSTOMER_ID,
    ORDER_TOTAL,
    FLOW_VERSION,
    NEEDS_REVIEW,
    REVIEW_ESCALATED,
)
