"""cyclonus (github.com/mattfenwick/cyclonus), built from the Go module proxy into the cache, for the tests that
evaluate the network_policies role's manifests by their effect (``python -m localcyclonus build``)."""
