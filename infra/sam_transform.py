#!/usr/bin/env python3
"""Render a SAM template as the CloudFormation that `sam deploy` would create.

It runs the AWS SAM translator (the aws-sam-translator package, on the
project's machine image with cfn-lint), the same library the SAM CLI and
CloudFormation's Serverless transform use, so tests can check what would
really be deployed rather than what the template seems to say.

Usage: sam_transform.py TEMPLATE > cloudformation.json
"""
import json
import os
import sys

from samtranslator.translator.transform import transform
from samtranslator.yaml_helper import yaml_parse


class NoManagedPolicies:
    """The template grants inline statements only: no managed policy to look up."""

    def load(self):
        return {}


def main():
    if len(sys.argv) != 2:
        sys.exit("usage: sam_transform.py TEMPLATE")
    with open(sys.argv[1]) as f:
        template = yaml_parse(f.read())
    for resource in template.get("Resources", {}).values():
        if resource.get("Type") == "AWS::Serverless::Function":
            # sam package replaces the local CodeUri with the uploaded artifact.
            resource["Properties"]["CodeUri"] = "s3://artifacts/function.zip"
    os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
    rendered = transform(template, {"AWS::Region": os.environ["AWS_DEFAULT_REGION"]}, NoManagedPolicies())
    json.dump(rendered, sys.stdout, indent=1, sort_keys=True)


if __name__ == "__main__":
    main()
