"""Run by the MLflow server's own Python (tests/mlflow_server.py): MLflow's client does what a
team does to its registry, so that crnnaudit's reader is tried against the real thing.

Usage: python mlflow_register.py TRACKING_URI  < JSON list of actions
  {"register": NAME, "files": [PATHS], "folder": "model"}  -> prints {"version": N}
  {"alias": ALIAS, "name": NAME, "version": N}              (moves or sets an alias)
  {"delete_alias": ALIAS, "name": NAME}
  {"tags": NAME, "version": N}                              -> prints the version's tags
"""

import json
import sys

import mlflow
from mlflow import MlflowClient

mlflow.set_tracking_uri(sys.argv[1])
client = MlflowClient()
out = []
for action in json.load(sys.stdin):
    if "register" in action:
        name = action["register"]
        with mlflow.start_run() as run:
            for f in action["files"]:
                mlflow.log_artifact(f, artifact_path=action.get("folder", "model"))
        try:
            client.get_registered_model(name)
        except mlflow.exceptions.MlflowException:
            client.create_registered_model(name)
        mv = client.create_model_version(name, f"{run.info.artifact_uri}/{action.get('folder', 'model')}",
                                         run_id=run.info.run_id)
        out.append({"version": mv.version, "artifact_uri": f"{run.info.artifact_uri}/{action.get('folder', 'model')}"})
    elif "alias" in action:
        client.set_registered_model_alias(action["name"], action["alias"], str(action["version"]))
        out.append({})
    elif "delete_alias" in action:
        client.delete_registered_model_alias(action["name"], action["delete_alias"])
        out.append({})
    elif "tags" in action:
        out.append(client.get_model_version(action["tags"], str(action["version"])).tags)
print(json.dumps(out))
