"""The local stack: the whole platform on one machine, driven by template.yaml.

Modules: ``template`` (load + resolve), ``resources`` (tables/queues), ``lambdas`` (handlers),
``gateway`` (local API Gateway), ``poller`` (SQS mapping), ``scheduler``, ``stack``
(``LocalStack``), ``cli`` (``telemetry-dev``). Nothing is imported here so that light users
(``devstack.template``) do not pay for moto.
"""
