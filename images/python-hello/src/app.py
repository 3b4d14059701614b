"""A minimal Lambda handler: lamina's shipped example."""
import json
import platform


def handler(event, context):
    name = (event or {}).get("name", "world")
    return {
        "statusCode": 200,
        "body": json.dumps({"message": f"hello, {name}", "python": platform.python_version()}),
    }
