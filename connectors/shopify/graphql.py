"""Every GraphQL Admin API operation DropTrack sends, with the cost it budgets for each.

Costs are Shopify's documented upper bounds for the selection (objects 1, connections
2 + first x node, mutations 10); the client learns the real requested cost from each answer.
tests/unit/test_shopify_graphql.py validates every operation against Shopify's real schema.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Operation:
    name: str
    text: str
    estimated_cost: int


# A fulfillment order's lines, as the write-back matches them to the shipped lines.
FO_LINE_FIELDS = "id remainingQuantity lineItem { id }"
PAGE_INFO = "pageInfo { hasNextPage endCursor }"

ORDER_FULFILLMENTS = Operation("DropTrackOrderFulfillments", """
query DropTrackOrderFulfillments($id: ID!) {
  order(id: $id) {
    id
    fulfillmentOrders(first: 5) {
      nodes {
        id
        status
        lineItems(first: 20) { nodes { """ + FO_LINE_FIELDS + " } " + PAGE_INFO + """ }
      }
      """ + PAGE_INFO + """
    }
    fulfillments(first: 20) { id status trackingInfo(first: 5) { company number url } }
  }
}
""", 220)

# The rest of a connection that ORDER_FULFILLMENTS (or an order read) left on another page:
# an order is never acted on with lines or fulfillment orders missing (connector._complete).
ORDER_FULFILLMENT_ORDERS_PAGE = Operation("DropTrackOrderFulfillmentOrdersPage", """
query DropTrackOrderFulfillmentOrdersPage($id: ID!, $after: String) {
  order(id: $id) {
    fulfillmentOrders(first: 5, after: $after) {
      nodes {
        id
        status
        lineItems(first: 20) { nodes { """ + FO_LINE_FIELDS + " } " + PAGE_INFO + """ }
      }
      """ + PAGE_INFO + """
    }
  }
}
""", 218)

FULFILLMENT_ORDER_LINES_PAGE = Operation("DropTrackFulfillmentOrderLinesPage", """
query DropTrackFulfillmentOrderLinesPage($id: ID!, $after: String) {
  fulfillmentOrder(id: $id) {
    lineItems(first: 100, after: $after) { nodes { """ + FO_LINE_FIELDS + " } " + PAGE_INFO + """ }
  }
}
""", 203)

FULFILLMENT_STATE = Operation("DropTrackFulfillmentState", """
query DropTrackFulfillmentState($id: ID!) {
  fulfillment(id: $id) {
    id
    status
    trackingInfo(first: 5) { company number url }
    events(first: 10, reverse: true, sortKey: HAPPENED_AT) { nodes { status happenedAt } }
  }
}
""", 14)

FULFILLMENT_CREATE = Operation("DropTrackFulfillmentCreate", """
mutation DropTrackFulfillmentCreate($fulfillment: FulfillmentInput!) {
  fulfillmentCreate(fulfillment: $fulfillment) {
    fulfillment { id status }
    userErrors { field message }
  }
}
""", 10)

TRACKING_UPDATE = Operation("DropTrackTrackingUpdate", """
mutation DropTrackTrackingUpdate($fulfillmentId: ID!, $trackingInfoInput: FulfillmentTrackingInput!,
                                 $notifyCustomer: Boolean) {
  fulfillmentTrackingInfoUpdate(fulfillmentId: $fulfillmentId,
                                trackingInfoInput: $trackingInfoInput,
                                notifyCustomer: $notifyCustomer) {
    fulfillment { id }
    userErrors { field message }
  }
}
""", 50)  # live Shopify charges this mutation 50, not 10 (docs/api-costs.md)

EVENT_CREATE = Operation("DropTrackFulfillmentEvent", """
mutation DropTrackFulfillmentEvent($fulfillmentEvent: FulfillmentEventInput!) {
  fulfillmentEventCreate(fulfillmentEvent: $fulfillmentEvent) {
    fulfillmentEvent { id status }
    userErrors { field message }
  }
}
""", 10)

# A line item as the webhook's line item gives what DropTrack uses of it (product_id and
# variant_id included: supplier mappings match on them).
ORDER_LINE_FIELDS = """
          id sku name quantity requiresShipping
          originalUnitPriceSet { shopMoney { amount } }
          product { id } variant { id }
"""

# The order fields the GraphQL mapper reads (mapper.parse_graphql_order), shared by every
# operation that reads whole orders so they all map the same way.
ORDER_FIELDS = """
      id
      legacyResourceId
      name
      email
      createdAt
      updatedAt
      cancelledAt
      displayFinancialStatus
      currencyCode
      totalPriceSet { shopMoney { amount } }
      shippingAddress {
        name firstName lastName company address1 address2 city province provinceCode zip
        countryCodeV2 phone
      }
      customer { firstName lastName }
      lineItems(first: 10) { nodes {""" + ORDER_LINE_FIELDS + "} " + PAGE_INFO + """ }
"""

ORDER_LINES_PAGE = Operation("DropTrackOrderLinesPage", """
query DropTrackOrderLinesPage($id: ID!, $after: String) {
  order(id: $id) {
    lineItems(first: 100, after: $after) { nodes {""" + ORDER_LINE_FIELDS + "} " + PAGE_INFO + """ }
  }
}
""", 503)

ORDERS_MODIFIED = Operation("DropTrackOrdersModified", """
query DropTrackOrdersModified($query: String!, $after: String) {
  orders(first: 10, after: $after, sortKey: UPDATED_AT, query: $query) {
    nodes {""" + ORDER_FIELDS + """    }
    pageInfo { hasNextPage endCursor }
  }
}
""", 572)

WEBHOOK_SUBSCRIPTIONS = Operation("DropTrackWebhookSubscriptions", """
query DropTrackWebhookSubscriptions($after: String) {
  webhookSubscriptions(first: 50, after: $after) {
    nodes { id topic uri }
    pageInfo { hasNextPage endCursor }
  }
}
""", 52)

WEBHOOK_CREATE = Operation("DropTrackWebhookCreate", """
mutation DropTrackWebhookCreate($topic: WebhookSubscriptionTopic!,
                                $webhookSubscription: WebhookSubscriptionInput!) {
  webhookSubscriptionCreate(topic: $topic, webhookSubscription: $webhookSubscription) {
    webhookSubscription { id topic uri }
    userErrors { field message }
  }
}
""", 10)

WEBHOOK_DELETE = Operation("DropTrackWebhookDelete", """
mutation DropTrackWebhookDelete($id: ID!) {
  webhookSubscriptionDelete(id: $id) {
    deletedWebhookSubscriptionId
    userErrors { field message }
  }
}
""", 10)

# ---------------------------------------------------------------- fulfillment-service mode
FULFILLMENT_SERVICES = Operation("DropTrackFulfillmentServices", """
query DropTrackFulfillmentServices {
  shop { fulfillmentServices { id serviceName callbackUrl location { id } } }
}
""", 3)

FULFILLMENT_SERVICE_CREATE = Operation("DropTrackFulfillmentServiceCreate", """
mutation DropTrackFulfillmentServiceCreate($name: String!, $callbackUrl: URL!) {
  fulfillmentServiceCreate(name: $name, callbackUrl: $callbackUrl, trackingSupport: false,
                           inventoryManagement: false, requiresShippingMethod: true) {
    fulfillmentService { id serviceName callbackUrl location { id } }
    userErrors { field message }
  }
}
""", 11)

# Fulfillment orders Shopify asks DropTrack to fulfil, each with its whole order (mapped like
# a webhook's) so one call decides them all.
REQUESTED_FULFILLMENT_ORDERS = Operation("DropTrackRequestedFulfillmentOrders", """
query DropTrackRequestedFulfillmentOrders($after: String) {
  assignedFulfillmentOrders(first: 5, after: $after, assignmentStatus: FULFILLMENT_REQUESTED) {
    nodes {
      id
      status
      requestStatus
      order {""" + ORDER_FIELDS + """      }
    }
    pageInfo { hasNextPage endCursor }
  }
}
""", 292)

ACCEPT_FULFILLMENT_REQUEST = Operation("DropTrackAcceptFulfillmentRequest", """
mutation DropTrackAcceptFulfillmentRequest($id: ID!, $message: String) {
  fulfillmentOrderAcceptFulfillmentRequest(id: $id, message: $message) {
    fulfillmentOrder { id status requestStatus }
    userErrors { field message }
  }
}
""", 10)

REJECT_FULFILLMENT_REQUEST = Operation("DropTrackRejectFulfillmentRequest", """
mutation DropTrackRejectFulfillmentRequest($id: ID!, $reason: FulfillmentOrderRejectionReason,
                                           $message: String) {
  fulfillmentOrderRejectFulfillmentRequest(id: $id, reason: $reason, message: $message) {
    fulfillmentOrder { id status requestStatus }
    userErrors { field message }
  }
}
""", 10)

ALL = (ORDER_FULFILLMENTS, ORDER_FULFILLMENT_ORDERS_PAGE, FULFILLMENT_ORDER_LINES_PAGE,
       ORDER_LINES_PAGE, FULFILLMENT_STATE, FULFILLMENT_CREATE, TRACKING_UPDATE, EVENT_CREATE,
       ORDERS_MODIFIED, WEBHOOK_SUBSCRIPTIONS, WEBHOOK_CREATE, WEBHOOK_DELETE,
       FULFILLMENT_SERVICES, FULFILLMENT_SERVICE_CREATE, REQUESTED_FULFILLMENT_ORDERS,
       ACCEPT_FULFILLMENT_REQUEST, REJECT_FULFILLMENT_REQUEST)


def gid(kind: str, legacy_id: str) -> str:
    return legacy_id if legacy_id.startswith("gid://") else f"gid://shopify/{kind}/{legacy_id}"


def legacy_id(value: str) -> str:
    """`gid://shopify/LineItem/123` -> `123` (the id webhooks carry)."""
    return value.rsplit("/", 1)[-1].split("?", 1)[0]

SHOP_IDENTITY = Operation("DropTrackShop", """
query DropTrackShop {
  shop { id myshopifyDomain }
}
""", 1)
