"""Checks an image from inside: imports, the handler, and a call of it with an event.

lamina runs it in the image's sandbox (src/run/verify.c) with the image's interpreter:
    python3 -B verify.py IO
IO/spec.json: {"imports": [...], "handler": "app.handler" or null, "module": "app",
"function": "handler", "event": true or false}; IO/event.json: the event. It writes
IO/result.json: {"failures": [{"what": ..., "traceback": ...}], "imports": [the ones that
loaded], "result": <JSON text of
what the handler returned, or null>, "importTimes": [{"module", "selfUs", "cumulativeUs"},
the slowest 100]}, every failure collected, so one run reports all.

Run with -X importtime, the interpreter writes each import's time to standard error; while
the imports and the handler's module load, standard error goes to IO/importtime.txt.
"""
import importlib
import json
import os
import sys
import time
import traceback
import uuid


def parse_importtime(text):
    """'import time: self [us] | cumulative | imported package' lines -> the slowest 100."""
    out = []
    for line in text.splitlines():
        if not line.startswith('import time:'):
            continue
        parts = line[len('import time:'):].split('|')
        if len(parts) != 3:
            continue
        try:
            self_us, cum_us = int(parts[0]), int(parts[1])
        except ValueError:
            continue  # the header
        out.append({'module': parts[2].strip(), 'selfUs': self_us, 'cumulativeUs': cum_us})
    out.sort(key=lambda t: -t['cumulativeUs'])
    return out[:100]


class Stderr:
    """Standard error (fd 2) into a file, and back."""

    def __init__(self, path):
        self.path = path
        self.saved = None

    def __enter__(self):
        try:
            sys.stderr.flush()
            self.saved = os.dup(2)
            fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            os.dup2(fd, 2)
            os.close(fd)
        except OSError:
            self.saved = None
        return self

    def __exit__(self, *exc):
        if self.saved is not None:
            try:
                sys.stderr.flush()
            except Exception:
                pass
            os.dup2(self.saved, 2)
            os.close(self.saved)
        return False


def load(name):
    """importlib.import_module, through the import statement's path: -X importtime
    times only that one, so the modules asked for get their own line."""
    __import__(name)
    return sys.modules[name]


def main(io):
    with open(io + '/spec.json') as f:
        spec = json.load(f)
    fails = []
    done = []
    result = None
    root = os.environ.get('LAMBDA_TASK_ROOT', '/var/task')
    if root not in sys.path:
        sys.path.insert(0, root)
    here = os.path.abspath(__file__)

    def fail(what):
        et, ev, tb = sys.exc_info()
        # start at the code under test: not this script, not importlib
        while tb and tb.tb_next and (os.path.abspath(tb.tb_frame.f_code.co_filename) == here or
                                     'importlib' in tb.tb_frame.f_code.co_filename):
            tb = tb.tb_next
        fails.append({'what': what, 'traceback': ''.join(traceback.format_exception(et, ev, tb))})

    timing = Stderr(io + '/importtime.txt')
    timing.__enter__()
    for m in spec['imports']:
        try:
            load(m)
            done.append(m)
        except BaseException:
            fail('import %r' % m)
    h = spec.get('handler')
    fn = None
    if h:
        try:
            mod = load(spec['module'])
        except BaseException:
            fail('handler %r: import %r' % (h, spec['module']))
        else:
            fn = getattr(mod, spec['function'], None)
            if fn is None:
                fails.append({'what': 'handler %r' % h,
                              'traceback': 'module %r (%s) has no attribute %r\n' % (
                                  spec['module'], getattr(mod, '__file__', '?'), spec['function'])})
            elif not callable(fn):
                fails.append({'what': 'handler %r' % h, 'traceback': '%r is not callable\n' % fn})
                fn = None
    timing.__exit__()
    times = []
    try:
        with open(io + '/importtime.txt') as f:
            times = parse_importtime(f.read())
    except OSError:
        pass
    if fn is not None and spec.get('event'):
        name = os.environ.get('AWS_LAMBDA_FUNCTION_NAME', 'lamina-verify')
        deadline = time.time() + 900

        class Context:
            function_name = name
            function_version = '$LATEST'
            invoked_function_arn = 'arn:aws:lambda:us-east-1:000000000000:function:' + name
            memory_limit_in_mb = '128'
            aws_request_id = str(uuid.uuid4())
            log_group_name = '/aws/lambda/' + name
            log_stream_name = 'lamina-verify'
            identity = None
            client_context = None

            def get_remaining_time_in_millis(self):
                return max(0, int((deadline - time.time()) * 1000))

        try:
            with open(io + '/event.json') as f:
                event = json.load(f)
        except BaseException:
            fail('event file')
        else:
            try:
                result = json.dumps(fn(event, Context()))
            except BaseException:
                fail('handler %r: call' % h)
    with open(io + '/result.json', 'w') as f:
        json.dump({'failures': fails, 'imports': done, 'result': result, 'importTimes': times}, f)


if __name__ == '__main__':
    main(sys.argv[1] if len(sys.argv) > 1 else '/.lamina-io')
