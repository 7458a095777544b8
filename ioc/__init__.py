"""Core of the IOC backend: configuration, the station registry, typed messages, the service
wiring and the ``ioc`` command line."""
