"""Edge connectors per department family. ``adapters.link`` is the link to the gateway every
adapter stands on (a client that signs and submits, a receiver that verifies pushes);
``adapters.common`` is what the families share on the department's side (native records to
canonical documents and back, and the command line). See ``adapters/link/__init__.py``."""
