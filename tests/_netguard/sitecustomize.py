# Loaded by Python at start-up in subprocesses the tests run (PYTHONPATH includes this folder).
import netguard

netguard.install()
