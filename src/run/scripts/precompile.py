"""Compiles Python sources to .pyc inside the image, with the image's own interpreter.

lamina runs it in the image's sandbox (src/run/precompile.c):
    python3 -I -S -B precompile.py IO MODE OPTIMIZE SOURCELESS EPOCH JOBS
IO holds "list" (NUL-separated "index<TAB>path" records, paths in the image). For each
source it writes IO/pyc/<index> with the header the invalidation MODE needs
(unchecked-hash, checked-hash or timestamp; a timestamp .pyc records EPOCH, the time every
file gets in the layer), and one result line per source to IO/res.<worker>:
    ok<TAB><index><TAB><path of the .pyc in the image>
    err<TAB><index><TAB><line><TAB><message>
JOBS worker processes share the list.
"""
import importlib._bootstrap_external as be
import importlib.util
import os
import sys


def main(argv):
    io, mode, opt = argv[1], argv[2], int(argv[3])
    sourceless, epoch, jobs = argv[4] == '1', int(argv[5]), int(argv[6])
    os.makedirs(io + '/pyc', exist_ok=True)
    with open(io + '/list', 'rb') as f:
        items = [x.decode('utf-8', 'surrogateescape').split('\t', 1) for x in f.read().split(b'\0') if x]

    def one(idx, path):
        with open(path, 'rb') as f:
            data = f.read()
        code = compile(data, path, 'exec', dont_inherit=True, optimize=opt)
        if mode == 'timestamp':
            pyc = be._code_to_timestamp_pyc(code, epoch, len(data))
        else:
            pyc = be._code_to_hash_pyc(code, importlib.util.source_hash(data), mode == 'checked-hash')
        with open(io + '/pyc/' + idx, 'wb') as f:
            f.write(pyc)
        if sourceless:
            return path[:-3] + '.pyc'
        return importlib.util.cache_from_source(path, optimization=opt if opt else '')

    def clean(s):
        return str(s).replace('\t', ' ').replace('\n', ' ').replace('\r', ' ')

    def work(w):
        with open('%s/res.%d' % (io, w), 'w', encoding='utf-8', errors='surrogateescape') as out:
            for idx, path in items[w::jobs]:
                try:
                    out.write('ok\t%s\t%s\n' % (idx, one(idx, path)))
                except SyntaxError as e:
                    out.write('err\t%s\t%d\t%s: %s\n' % (idx, e.lineno or 0, type(e).__name__, clean(e.msg)))
                except Exception as e:
                    out.write('err\t%s\t0\t%s: %s\n' % (idx, type(e).__name__, clean(e)))

    jobs = max(1, min(jobs, len(items)))
    pids = []
    for w in range(jobs):
        pid = os.fork()
        if pid == 0:
            try:
                work(w)
            finally:
                os._exit(0)
        pids.append(pid)
    bad = 0
    for pid in pids:
        bad |= os.waitpid(pid, 0)[1]
    return 1 if bad else 0


if __name__ == '__main__':
    sys.exit(main(sys.argv))
