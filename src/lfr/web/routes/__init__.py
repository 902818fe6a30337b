"""The routers of the web application, one module per area."""

from __future__ import annotations

from fastapi import APIRouter

from lfr.web.routes import auth, home

ROUTERS: tuple[APIRouter, ...] = (auth.router, home.router)
