"""The image import's domain, shared by its two entry points: the api and the worker each
import this package and never each other. It holds declarations and the lifecycles' SQL
access, no connector, no image decoder and no HTTP client."""
