"""Where readings are stored: InfluxDB through its v1 HTTP API."""
