"""Which subject each image of a user folder comes from (see the module
docstring of mri_folder_dataset_builder for the rules)."""
from __future__ import annotations

import csv
import os

from etils import epath

from gan.errors import UserError

SUBJECTS_FILE = "subjects.csv"  # file,subject rows at the folder's root.


def read_subjects(folder: str | os.PathLike) -> dict[str, str]:
  """`folder`/subjects.csv as {file relative to folder: subject} ({} when
  there is none); a one-line error for a malformed table."""
  path = epath.Path(folder) / SUBJECTS_FILE
  if not path.exists():
    return {}
  rows = list(csv.reader(path.read_text().splitlines()))
  if not rows or [c.strip().lower() for c in rows[0][:2]] != ["file", "subject"]:
    raise UserError(f"{path}: the first row must be the header "
                    f"'file,subject'; got {rows[0] if rows else 'nothing'}: "
                    f"add that header line, or remove the file to split by "
                    f"sub-folder")
  table = {}
  for number, row in enumerate(rows[1:], start=2):
    if not row:
      continue
    if len(row) != 2 or not row[0].strip() or not row[1].strip():
      raise UserError(f"{path} line {number}: expected 'file,subject' "
                      f"with both filled in, e.g. healthy/a.png,s01; got {row}")
    table[row[0].strip().removeprefix("./")] = row[1].strip()
  return table


def split_rows(table: dict[str, str], split: str,
               split_names: tuple[str, ...]) -> dict[str, str]:
  """The rows of one split, keyed by `class/relpath` as examples name files."""
  if split_names == ("train",):
    return dict(table)
  prefix = split + "/"
  return {f[len(prefix):]: s for f, s in table.items() if f.startswith(prefix)}


def subject_of(table: dict[str, str], filename: str, relpath: str,
               is_volume: bool) -> tuple[str, str]:
  """(subject, where it came from) of one file: its row of `table`
  (subjects.csv, keyed by `class/relpath`), else its first sub-folder under
  the class folder, else the file when it is a volume (a NIfTI file, a
  multi-frame DICOM), else unknown ("")."""
  if filename in table:
    return table[filename], "named in subjects.csv"
  if "/" in relpath:
    return relpath.split("/", 1)[0], "in subject sub-folders"
  if is_volume:
    return filename, "volumes (one subject each)"
  return "", "unknown"
