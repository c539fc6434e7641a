"""ItemStore on DynamoDB: one table, ``pk``/``sk`` keys, one GSI ``gsi1`` (``gsi1pk``/``gsi1sk``).

Each item keeps its document as a JSON string in ``doc`` (no Decimal round-trips, one attribute
to read) and a write counter ``ver`` for optimistic concurrency.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import orjson
from botocore.exceptions import BotoCoreError, ClientError

from telemetry.adapters.aws_clients import CLIENT_LOCK, aws_client, error_code
from telemetry.cursor import decode_cursor, encode_cursor
from telemetry.errors import Conflict, NotFound, Unavailable, ValidationFailed
from telemetry.ports.definitions import Expect, Item, Stored

_RETRYABLE_SERVICE_CODES = {
    "ProvisionedThroughputExceededException",
    "ThrottlingException",
    "RequestLimitExceeded",
    "InternalServerError",
    "ServiceUnavailable",
    "ResourceNotFoundException",
}


class DynamoDbItemStore:
    def __init__(self, table_name: str, client: Any = None) -> None:
        self.table_name = table_name
        self._client = client

    @property
    def client(self) -> Any:
        if self._client is None:
            from botocore.config import Config

            with CLIENT_LOCK:
                if self._client is None:
                    config = Config(retries={"max_attempts": 5, "mode": "standard"})
                    self._client = aws_client("dynamodb", config=config)
        return self._client

    # ------------------------------------------------------------------ reads
    def get(self, pk: str, sk: str) -> Stored | None:
        try:
            out = self.client.get_item(
                TableName=self.table_name, Key={"pk": {"S": pk}, "sk": {"S": sk}}, ConsistentRead=True
            )
        except (ClientError, BotoCoreError) as exc:
            raise _unavailable(exc) from exc
        item = out.get("Item")
        return _stored(item) if item else None

    def batch_get(self, keys: Sequence[tuple[str, str]]) -> list[Stored]:
        unique = list(dict.fromkeys(keys))
        found: list[Stored] = []
        for start in range(0, len(unique), 100):
            request: dict[str, Any] = {
                self.table_name: {
                    "Keys": [{"pk": {"S": pk}, "sk": {"S": sk}} for pk, sk in unique[start : start + 100]]
                }
            }
            attempts = 0
            while request:
                try:
                    out = self.client.batch_get_item(RequestItems=request)
                except (ClientError, BotoCoreError) as exc:
                    raise _unavailable(exc) from exc
                found.extend(_stored(i) for i in out.get("Responses", {}).get(self.table_name, []))
                request = out.get("UnprocessedKeys") or {}
                attempts += 1
                if request and attempts > 8:
                    raise Unavailable("the definitions table kept throttling reads")
        return found

    def query(
        self,
        pk: str,
        sk_prefix: str = "",
        *,
        limit: int = 100,
        cursor: str | None = None,
        index: str | None = None,
        descending: bool = False,
    ) -> tuple[list[Stored], str | None]:
        pk_attr, sk_attr = ("gsi1pk", "gsi1sk") if index else ("pk", "sk")
        params: dict[str, Any] = {
            "TableName": self.table_name,
            "KeyConditionExpression": f"{pk_attr} = :pk"
            + (f" AND begins_with({sk_attr}, :prefix)" if sk_prefix else ""),
            "ExpressionAttributeValues": {
                ":pk": {"S": pk},
                **({":prefix": {"S": sk_prefix}} if sk_prefix else {}),
            },
            # one more than asked, so that a full last page does not return a cursor to nothing
            "Limit": limit + 1,
            "ScanIndexForward": not descending,
        }
        if index:
            params["IndexName"] = index
        if cursor:
            params["ExclusiveStartKey"] = self._start_key(cursor, pk, sk_prefix, index)
        try:
            out = self.client.query(**params)
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") == "ValidationException" and cursor:
                raise ValidationFailed.single(["continuationToken"], "is not a valid continuation token") from exc
            raise _unavailable(exc) from exc
        except BotoCoreError as exc:
            raise _unavailable(exc) from exc
        raw = out.get("Items", [])
        last = out.get("LastEvaluatedKey")
        if len(raw) > limit:
            raw = raw[:limit]
            last = raw[-1]
        items = [_stored(i) for i in raw]
        next_cursor = None
        if last:
            data = {"s": last["sk"]["S"]}
            if index:
                data.update(p=last["pk"]["S"], g=last["gsi1sk"]["S"])
            next_cursor = encode_cursor(data)
        return items, next_cursor

    @staticmethod
    def _start_key(cursor: str, pk: str, sk_prefix: str, index: str | None) -> dict[str, Any]:
        """Rebuild ExclusiveStartKey: the caller's partition, the cursor's sort position only."""
        data = decode_cursor(cursor)
        try:
            if index:
                item_pk, item_sk, gsk = str(data["p"]), str(data["s"]), str(data["g"])
                tenant = pk.split("#", 2)[:2]
                if item_pk.split("#", 2)[:2] != tenant or not gsk.startswith(sk_prefix):
                    raise KeyError
                return {"pk": {"S": item_pk}, "sk": {"S": item_sk}, "gsi1pk": {"S": pk}, "gsi1sk": {"S": gsk}}
            item_sk = str(data["s"])
            if not item_sk.startswith(sk_prefix):
                raise KeyError
            return {"pk": {"S": pk}, "sk": {"S": item_sk}}
        except KeyError:
            raise ValidationFailed.single(["continuationToken"], "is not a valid continuation token") from None

    # ------------------------------------------------------------------ writes
    def write(self, items: Sequence[Item]) -> None:
        if not items:
            return
        if len(items) == 1:
            item = items[0]
            try:
                self.client.put_item(TableName=self.table_name, **self._put(item))
            except ClientError as exc:
                if exc.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException":
                    raise _condition_error(item) from exc
                raise _unavailable(exc) from exc
            except BotoCoreError as exc:
                raise _unavailable(exc) from exc
            return
        try:
            self.client.transact_write_items(
                TransactItems=[{"Put": {"TableName": self.table_name, **self._put(i)}} for i in items]
            )
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") == "TransactionCanceledException":
                reasons = exc.response.get("CancellationReasons") or []
                for item, reason in zip(items, reasons, strict=False):
                    if reason.get("Code") == "ConditionalCheckFailed":
                        raise _condition_error(item) from exc
            raise _unavailable(exc) from exc
        except BotoCoreError as exc:
            raise _unavailable(exc) from exc

    def delete(self, pk: str, sk: str) -> None:
        try:
            self.client.delete_item(TableName=self.table_name, Key={"pk": {"S": pk}, "sk": {"S": sk}})
        except (ClientError, BotoCoreError) as exc:
            raise _unavailable(exc) from exc

    @staticmethod
    def _put(item: Item) -> dict[str, Any]:
        attrs: dict[str, Any] = {
            "pk": {"S": item.pk},
            "sk": {"S": item.sk},
            "doc": {"S": orjson.dumps(item.doc).decode()},
            "ver": {"N": str(item.expected_ver + 1 if item.expect is Expect.VERSION else 1)},
        }
        if item.gsi1pk:
            attrs["gsi1pk"] = {"S": item.gsi1pk}
            attrs["gsi1sk"] = {"S": item.gsi1sk or item.sk}
        if item.expires_at:
            attrs["expiresAt"] = {"N": str(item.expires_at)}
        if item.expect is Expect.LEASE:
            attrs["leaseUntil"] = {"N": str(item.lease_until)}
        put: dict[str, Any] = {"Item": attrs}
        if item.expect is Expect.NEW:
            put["ConditionExpression"] = "attribute_not_exists(pk)"
        elif item.expect is Expect.EXISTS:
            put["ConditionExpression"] = "attribute_exists(pk)"
        elif item.expect is Expect.LEASE:
            put["ConditionExpression"] = "attribute_not_exists(pk) OR leaseUntil <= :now"
            put["ExpressionAttributeValues"] = {":now": {"N": str(item.lease_now)}}
        elif item.expect is Expect.VERSION:
            if item.expected_ver == 0:
                put["ConditionExpression"] = "attribute_not_exists(pk)"
            else:
                put["ConditionExpression"] = "ver = :ver"
                put["ExpressionAttributeValues"] = {":ver": {"N": str(item.expected_ver)}}
        return put


def _stored(item: dict[str, Any]) -> Stored:
    return Stored(
        pk=item["pk"]["S"],
        sk=item["sk"]["S"],
        doc=orjson.loads(item["doc"]["S"]),
        ver=int(item.get("ver", {}).get("N", "1")),
    )


def _condition_error(item: Item) -> Exception:
    what = item.label or f"{item.pk}/{item.sk}"
    if item.expect is Expect.EXISTS:
        return NotFound(f"{what} does not exist")
    if item.expect is Expect.VERSION:
        return Conflict(f"{what} was changed concurrently; retry")
    if item.expect is Expect.LEASE:
        return Conflict(f"{what} is held")
    return Conflict(f"{what} already exists")


def _unavailable(exc: Exception) -> Unavailable:
    code = error_code(exc)
    return Unavailable(f"the definitions store failed ({code})")
