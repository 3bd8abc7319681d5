"""The Kubeflow Pipelines runner: compiles create_pipeline(...) into a KFP 2.x
package (runner.py), runs it with kfp's client (submit.py), and the commands
for both (cli.py). kubeflow/Dockerfile builds the image its tasks run in."""
