"""The codec endpoint: `POST /codec/decode` and `POST /codec/encode`, Temporal's remote codec
protocol, so the Web UI (its "Codec Server" setting, or the dev server's `--ui-codec-endpoint`)
and the `temporal` CLI (`--codec-endpoint`) can show encrypted payloads to an operator.

Bodies are `Payloads` in protobuf JSON. Both routes answer 404 without `OMS_PAYLOAD_KEY`;
who may call is `codec_for_caller`'s to say. CORS: only these routes, only for
`OMS_CODEC_CORS_ORIGINS` (default: the dev server's Web UI on `OMS_UI_PORT`).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, FastAPI, HTTPException, Request, status
from fastapi.responses import JSONResponse
from fastapi.security import HTTPAuthorizationCredentials
from google.protobuf import json_format
from starlette.middleware.cors import CORSMiddleware
from starlette.types import ASGIApp, Receive, Scope, Send
from temporalio.api.common.v1 import Payloads

from api.deps import bearer
from oms.config.codec import EncryptionCodec, PayloadDecryptError, payload_codec
from oms.config.settings import Settings

PREFIX = "/codec"

router = APIRouter(prefix=PREFIX, tags=["codec"])


def codec_for_caller(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
) -> EncryptionCodec:
    """The codec, for an operator key (`Authorization: Bearer <key>`), unless
    `OMS_CODEC_REQUIRE_KEY=false`. The Web UI cannot send one of our keys: it sends only
    `Content-Type` and `X-Namespace`, plus `Authorization: Bearer <its own OIDC access token>`
    when "pass access token" is configured (and only to an https endpoint) and cookies when
    "include cross-origin credentials" is. So decoding in the UI needs either
    `OMS_CODEC_REQUIRE_KEY=false` (what `oms run` uses for its local stack) or a proxy in
    front of this route that checks the UI's token. The CLI sends a key with `--codec-auth`.

    Bodies are `temporalio.api.common.v1.Payloads` in protobuf JSON: `{"payloads":
    [{"metadata": {"encoding": "<base64>", ...}, "data": "<base64>"}]}`."""
    codec: EncryptionCodec | None = getattr(request.app.state, "payload_codec", None)
    if codec is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "payload encryption is not configured")
    settings: Settings = request.app.state.settings
    if settings.codec_require_key:
        principals = request.app.state.principals
        principal = principals.get(credentials.credentials) if credentials else None
        if principal is None:
            raise HTTPException(
                status.HTTP_401_UNAUTHORIZED,
                "an operator key is required: Authorization: Bearer <key> "
                "(or OMS_CODEC_REQUIRE_KEY=false for the Web UI)",
                headers={"WWW-Authenticate": "Bearer"},
            )
        if not principal.is_operator:
            raise HTTPException(status.HTTP_403_FORBIDDEN, "only an operator may use the codec")
    namespace = request.headers.get("X-Namespace")
    if namespace and namespace != settings.temporal_namespace:
        raise HTTPException(
            status.HTTP_400_BAD_REQUEST,
            f"this codec serves namespace {settings.temporal_namespace!r}, not {namespace!r}",
        )
    return codec


CodecDep = Annotated[EncryptionCodec, Depends(codec_for_caller)]


async def read_payloads(request: Request) -> Payloads:
    payloads = Payloads()
    try:
        json_format.Parse(await request.body(), payloads, ignore_unknown_fields=True)
    except (json_format.ParseError, UnicodeDecodeError) as error:
        raise HTTPException(
            status.HTTP_400_BAD_REQUEST, f"expected Payloads as protobuf JSON: {error}"
        ) from None
    return payloads


def payloads_response(payloads: Payloads) -> JSONResponse:
    return JSONResponse(json_format.MessageToDict(payloads))


@router.post(
    "/decode",
    summary="Decrypt payloads (Temporal remote codec protocol)",
    response_description="the payloads decoded; unencrypted ones unchanged",
)
async def decode(request: Request, codec: CodecDep) -> JSONResponse:
    payloads = await read_payloads(request)
    try:
        await codec.decode_wrapper(payloads)
    except PayloadDecryptError as error:
        raise HTTPException(status.HTTP_400_BAD_REQUEST, str(error)) from None
    return payloads_response(payloads)


@router.post(
    "/encode",
    summary="Encrypt payloads (Temporal remote codec protocol)",
    response_description="the payloads encrypted with the current key",
)
async def encode(request: Request, codec: CodecDep) -> JSONResponse:
    payloads = await read_payloads(request)
    await codec.encode_wrapper(payloads)
    return payloads_response(payloads)


class CodecCORSMiddleware:
    """CORS for the codec routes alone, so the rest of the API stays same-origin."""

    def __init__(self, app: ASGIApp, origins: list[str]) -> None:
        self.app = app
        self.cors = CORSMiddleware(
            app,
            allow_origins=origins,
            allow_methods=["POST"],
            allow_headers=["Content-Type", "X-Namespace", "Authorization"],
            allow_credentials=True,  # the UI's "include cross-origin credentials"
            max_age=600,
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"].startswith(PREFIX + "/"):
            await self.cors(scope, receive, send)
        else:
            await self.app(scope, receive, send)


def install(app: FastAPI, settings: Settings) -> None:
    """The codec routes (always there; 404 without a key) and their CORS."""
    app.state.payload_codec = payload_codec(settings)
    app.include_router(router)
    if app.state.payload_codec is not None:
        app.add_middleware(CodecCORSMiddleware, origins=settings.resolved_codec_cors_origins)
