"""What a LakeFormation job reads and changes, named once for OpenLineage and Airflow assets.

* :mod:`.naming`: the datasets a job spec reads and writes (plain data, no optional dependency) and
  the ``lakeformation://{region}/{instance_id}/{catalog}[/{database}]`` asset URIs.
* :mod:`.assets`: Airflow assets and asset-event extras built from those datasets.
* :mod:`.openlineage`: OpenLineage facets; imports the OpenLineage provider only when called, so
  nothing changes when the ``openlineage`` extra is not installed.
"""
