"""TCIA Pancreas-CT (or any axial CT collection) from DICOM.

Pipeline: :mod:`.scan` reads file headers and rejects what is not an axial CT image;
:mod:`.series` groups files by SeriesInstanceUID, checks consistency and orders slices by position
along the slice normal; :mod:`.transform` converts to HU, windows and resamples; :mod:`.prepare`
runs it in worker processes into a memory-mappable cache with a manifest; :mod:`.dataset` is the
registry factory; :mod:`.synth` writes a synthetic phantom collection for tests and demos.
"""
