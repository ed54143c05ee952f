"""Files as Python 2 wrote them (the published C3D and ranker weights): bytes pickled as Python 2 str."""
import io
import pickle
import struct
import zipfile

import numpy as np


class Python2Pickler(pickle._Pickler):
    """Writes bytes as Python 2 str (BINSTRING), as the published pickle holds array data."""
    dispatch = pickle._Pickler.dispatch.copy()

    def save_bytes_as_str(self, data):
        self.write(pickle.BINSTRING + struct.pack("<i", len(data)) + data)
        self.memoize(data)

    dispatch[bytes] = save_bytes_as_str


def write_python2_pickle(path, arrays):
    buffer = io.BytesIO()
    Python2Pickler(buffer, protocol=2).dump(arrays)
    # Python 2's numpy lived in numpy.core.
    path.write_bytes(buffer.getvalue().replace(b"cnumpy._core.multiarray\n", b"cnumpy.core.multiarray\n"))


def write_python2_npz(path, arrays):
    """np.savez(path, arrays) as Python 2 numpy wrote it: arr_0.npy an object array whose pickle is Python 2's."""
    params = np.empty(len(arrays), dtype=object)
    params[:] = arrays
    payload = io.BytesIO()
    np.lib.format.write_array_header_1_0(payload, {"descr": "|O", "fortran_order": False, "shape": params.shape})
    Python2Pickler(payload, protocol=2).dump(params)
    data = payload.getvalue().replace(b"cnumpy._core.multiarray\n", b"cnumpy.core.multiarray\n")
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("arr_0.npy", data)
