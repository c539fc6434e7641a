"""SecretStore on AWS Secrets Manager: an integration's credentials, one secret per integration.

The value is the credentials' JSON (``SecretString``). ``put`` creates the secret, or writes a
new version of it when it exists already (a PUT with new credentials, a connector writing back a
Geotab session). ``delete`` deletes at once (``ForceDeleteWithoutRecovery``): a deleted
integration's credentials should not linger for the default 7..30-day recovery window, and its
id is never reused. Errors become :class:`telemetry.errors.Unavailable` naming the AWS error
code only: no message of ours or of AWS's ever carries the secret's value.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import orjson
from botocore.exceptions import BotoCoreError, ClientError

from telemetry.adapters.aws_clients import CLIENT_LOCK, aws_client, error_code
from telemetry.errors import NotFound, Unavailable


class SecretsManagerStore:
    def __init__(self, client: Any = None) -> None:
        self._client = client

    @property
    def client(self) -> Any:
        if self._client is None:
            with CLIENT_LOCK:
                if self._client is None:
                    self._client = aws_client("secretsmanager")
        return self._client

    def put(self, name: str, value: Mapping[str, Any]) -> str:
        text = orjson.dumps(dict(value)).decode()
        try:
            try:
                out = self.client.create_secret(Name=name, SecretString=text)
            except ClientError as exc:
                if error_code(exc) != "ResourceExistsException":
                    raise
                out = self.client.put_secret_value(SecretId=name, SecretString=text)
        except (ClientError, BotoCoreError) as exc:
            raise _unavailable(exc) from None
        return str(out["ARN"])

    def get(self, arn: str) -> dict[str, Any]:
        try:
            out = self.client.get_secret_value(SecretId=arn)
        except ClientError as exc:
            if error_code(exc) == "ResourceNotFoundException":
                raise NotFound("the integration's credentials are not set") from None
            raise _unavailable(exc) from None
        except BotoCoreError as exc:
            raise _unavailable(exc) from None
        value = orjson.loads(out["SecretString"])
        if not isinstance(value, dict):
            raise Unavailable("the integration's secret is not a JSON object")
        return value

    def delete(self, arn: str) -> None:
        try:
            self.client.delete_secret(SecretId=arn, ForceDeleteWithoutRecovery=True)
        except ClientError as exc:
            if error_code(exc) != "ResourceNotFoundException":
                raise _unavailable(exc) from None
        except BotoCoreError as exc:
            raise _unavailable(exc) from None


def _unavailable(exc: Exception) -> Unavailable:
    # ``from None`` at every raise: the ClientError's message may quote the request
    return Unavailable(f"the secret store failed ({error_code(exc)})")
