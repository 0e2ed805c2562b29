"""Multiplies a workspace's border events for the 50-million-event benchmark.

The generator writes every agency's export, which at 15 million persons
would take some 30 GB of disk; the derive benchmark needs only border events.
This writes N - 1 copies of each stored border-events Parquet file beside it,
in the same submission (so `corridor derive` and DuckDB both read them), with
each copy's persons made new ones: the first two hex digits of the person key
become the copy's number, and the record key is mixed with it. Dates, codes
and every other column are kept, so the copies are histories of the same
shape as the generated ones.

Usage: python3 bench/replicate_events.py WORKSPACE N
"""

import glob
import os
import sys

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq


def main() -> None:
    ws, copies = sys.argv[1], int(sys.argv[2])
    files = sorted(glob.glob(os.path.join(ws, "data", "border_events", "**", "*.parquet"), recursive=True))
    files = [f for f in files if not os.path.basename(f).startswith("copy-")]
    if not files:
        sys.exit(f"no border events under {ws}/data/border_events")
    for path in files:
        table = pq.read_table(path)
        keys = table.column("person_key")
        rest = pc.utf8_slice_codeunits(keys, 2)
        record = table.column("record_key")
        for i in range(1, copies):
            prefix = pa.scalar(f"{i:02x}"[-2:], pa.string())
            person = pc.binary_join_element_wise(prefix, rest, "")
            mixed = pc.bit_wise_xor(record, pa.scalar((i * 0x9E3779B97F4A7C15) % 2**64, pa.uint64()))
            copy = table.set_column(table.schema.get_field_index("person_key"), table.schema.field("person_key"), person)
            copy = copy.set_column(copy.schema.get_field_index("record_key"), copy.schema.field("record_key"), mixed)
            out = os.path.join(os.path.dirname(path), f"copy-{i:02}-{os.path.basename(path)}")
            pq.write_table(copy, out, compression="zstd", row_group_size=1 << 20)
        print(f"{path}: {copies} x {table.num_rows} rows")


if __name__ == "__main__":
    main()
