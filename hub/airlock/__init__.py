"""The airlock: a file leaves a health space only through an export request that a
second member, a data steward of that space, approves.

- **Health spaces** (:mod:`hub.confinement`): a health partner's shared space
  (``partenaire-<id>/...`` in the lab), a health project's space (``projet-<id>/...``),
  and the home of a member of exactly one health partner (any other path in the lab).
- **Request** (:meth:`core.Airlock.request`): the requester names the file as seen in
  their lab and gives a reason. The hub reads it beneath the space's directory without
  following links (:mod:`.files`), copies it into ``<data_dir>/airlock/staging/<id>``
  (directory 0700, the hub's: the requester cannot change what will be exported) and
  records its size and SHA-256 (:mod:`.store`).
- **Decision** by a *data steward* of the space (``data_stewards`` of the partner or
  project in the deployment file, and still a member of it), never the requester:
  approving re-hashes the staged copy, refuses on a mismatch, then copies it to the
  space's export area ``<data_dir>/exports/partners/<id>/<request id>-<name>`` (or
  ``exports/projects/<id>/``) with ``<file>.sha256`` beside it, checking the hash of
  the bytes written; refusing needs a reason and drops the staged copy.
- **Export area**: directories mode 2750 and files 0640, owned by root, group the
  space's Unix group when it exists (``partner-<id>``/``project-<id>``, local
  backend): the space's members may read what was released from their space, nobody
  but the hub may add, change or remove anything. The hub serves an approved file to
  its requester and to the space's stewards (page and REST API).
- **Audit** (:mod:`hub.audit`): ``airlock.request``, ``airlock.approve``,
  ``airlock.refuse``, ``airlock.export``, ``airlock.download``, each with the actor,
  the partners, the request id, the file's name and hash and the requester (``owner``:
  ``datalab audit --person <requester>`` shows the decisions on their requests);
  refusals (``result: refused``) carry the rule's key (``refusal``).
- **Where**: the page ``/hub/export`` and the REST API ``/hub/api/airlock/...``
  (:mod:`.handlers`), the command ``datalab airlock`` (:mod:`hub.cli`, through the API).
"""
