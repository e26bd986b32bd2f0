"""Exposed services in oscar-local: replicas of a service's script behind a streaming proxy.

``settings`` (the ``expose`` block), ``launch`` (a replica's command,
environment and network namespace), ``logs`` (stamped lines), ``replica``
(one process, probes, CPU), ``deployment`` (the replica count, rolling,
state), ``autoscaler`` (the HPA rule), ``balancer`` (least outstanding
requests), ``proxy`` (HTTP and WebSocket relay), ``access`` (ingress auth
and the forward-auth check), ``registry`` (the deployments of one server).
"""
from .registry import ExposedOptions, ExposedServices
from .settings import ExposeSettings, is_exposed, problem

__all__ = ["ExposedOptions", "ExposedServices", "ExposeSettings", "is_exposed", "problem"]
