"""Typed keys of the long-lived resources in the aiohttp application."""

from __future__ import annotations

from collections.abc import MutableMapping

from aiohttp import web

from alerts.lifecycle import AlertBook
from alerts.notify import WebhookNotifier
from analytics.cameras.snapshots import SnapshotStore
from ingest.camera_feed import CameraFeed
from ingest.live_lane import LaneStats
from ingest.mqtt_source import MqttLink
from ingest.rejections import RejectionSink
from ingest.validate import ReadingValidator
from ioc.config import IocConfig, RuleConfig
from ioc.config_store import ConfigStore
from ioc.live_config import LiveConfiguration
from ioc.pipeline import Pipeline
from ioc.registry import StationRegistry
from store.influx import InfluxStore
from store.journey_book import JourneyBook
from web.broadcast import Broadcaster
from web.station_board import StationBoard
from web.vehicle_board import VehicleBoard

CONFIG = web.AppKey("config", IocConfig)
REGISTRY = web.AppKey("registry", StationRegistry)
RULES = web.AppKey("rules", MutableMapping[str, RuleConfig])
STORE = web.AppKey("store", InfluxStore)
MQTT = web.AppKey("mqtt", MqttLink)
REJECTIONS = web.AppKey("rejections", RejectionSink)
ALERTS = web.AppKey("alerts", AlertBook)
BOARD = web.AppKey("board", StationBoard)
BROADCASTER = web.AppKey("broadcaster", Broadcaster)
PIPELINE = web.AppKey("pipeline", Pipeline)
VEHICLE_BOARD = web.AppKey("vehicle_board", VehicleBoard)
VALIDATOR = web.AppKey("validator", ReadingValidator)
SETTINGS = web.AppKey("settings", ConfigStore)
LIVE_CONFIG = web.AppKey("live_config", LiveConfiguration)
NOTIFIER = web.AppKey("notifier", WebhookNotifier)
CAMERAS = web.AppKey("cameras", CameraFeed)
SNAPSHOTS = web.AppKey("snapshots", SnapshotStore)
JOURNEYS = web.AppKey("journeys", JourneyBook)
LIVE_LANE = web.AppKey("live_lane", LaneStats)  # all zero while the lane is off
