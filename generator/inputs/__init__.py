"""Stage 1, inputs: list the source films (folder, glob, CSV, built-in sample), probe and
decode them (DICOM with pydicom, PNG/JPEG with DALI or PIL) and bring them to output size."""
