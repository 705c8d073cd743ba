"""What a speed figure is kept for (segcam.system.machine): the processor's model and the cores,
read from the machine itself; the architecture alone named nearly every PC alike."""

from segcam import system

XEON = """processor\t: 0
vendor_id\t: GenuineIntel
model name\t: Intel(R) Xeon(R)   Processor
flags\t\t: fpu vme

processor\t: 1
model name\t: Intel(R) Xeon(R)   Processor
"""
RASPBERRY_PI = """processor\t: 0
BogoMIPS\t: 108.00
Features\t: fp asimd evtstrm crc32 cpuid

Hardware\t: BCM2835
Model\t\t: Raspberry Pi 4 Model B Rev 1.4
"""


def test_cpu_model_is_read_from_cpuinfo_on_linux(tmp_path):
    cpuinfo = tmp_path / "cpuinfo"
    cpuinfo.write_text(XEON)
    assert system.cpu_model("linux", str(cpuinfo)) == "Intel(R) Xeon(R) Processor"
    cpuinfo.write_text(RASPBERRY_PI)  # Arm boards have no "model name"
    assert system.cpu_model("linux", str(cpuinfo)) == "BCM2835"


def test_machine_names_processor_and_cores(monkeypatch):
    assert system.machine("Intel(R) Xeon(R) Processor", 2).endswith("Intel(R) Xeon(R) Processor, 2 cores")
    assert system.machine("", 4).endswith("unknown processor, 4 cores")
    assert system.cpu_count() >= 1
    assert system.machine() != system.machine("Some Other CPU", system.cpu_count())
