"""Helpers the tests share: servers on loopback sockets, a scriptable origin, throwaway Redis, the html5lib corpus, consent cookies."""
