"""radiopaque generator: real chest radiographs in, labelled synthetic foreign-body shards out."""

__version__ = "0.1.0"
