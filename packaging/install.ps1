# Make a virtual environment and install segcam into it, with the torch build that suits this
# machine: the Windows twin of install.sh. Without an NVIDIA driver (no nvidia-smi), torch and
# torchvision come first from PyTorch's CPU index; then segcam itself.
#
#   powershell -ExecutionPolicy Bypass -File packaging\install.ps1 [-DryRun] [-Cpu | -Cuda] [-Venv DIR] [-Target WHAT]
#
# The venv goes to DIR (default .venv in the current folder); WHAT is what pip installs into it
# (default: the checkout this script is in). -DryRun prints the commands instead of running them.
# Not run by the tests (they have no PowerShell); install.sh is the tested twin.
param(
    [switch]$DryRun,
    [switch]$Cpu,
    [switch]$Cuda,
    [string]$Venv = ".venv",
    [string]$Target = ""
)
$ErrorActionPreference = "Stop"
if (-not $Target) { $Target = Split-Path -Parent $PSScriptRoot }
$CpuIndex = "https://download.pytorch.org/whl/cpu"
$Python = if (Get-Command py -ErrorAction SilentlyContinue) { "py" } else { "python" }
$Pip = Join-Path $Venv "Scripts\pip.exe"

function Say([string]$Text) { [Console]::Error.WriteLine("install.ps1: $Text") }

# Runs a command (its output to the console, not into the return value) and says whether it
# succeeded; with -DryRun, prints the command instead.
function Invoke-Step([string]$Exe, [string[]]$Arguments) {
    if ($DryRun) {
        $shown = foreach ($arg in @($Exe) + $Arguments) { if ($arg -match '[\s\[\]]') { "'$arg'" } else { $arg } }
        [Console]::Out.WriteLine($shown -join " ")
        return $true
    }
    & $Exe @Arguments | Out-Host
    return ($LASTEXITCODE -eq 0)
}

function Test-NvidiaDriver {
    if (Get-Command nvidia-smi -ErrorAction SilentlyContinue) { return $true }
    return Test-Path (Join-Path $env:SystemRoot "System32\nvidia-smi.exe")
}

function Test-CpuIndex {
    try {
        Invoke-WebRequest -UseBasicParsing -TimeoutSec 15 -Uri "$CpuIndex/torch/" | Out-Null
        return $true
    } catch { return $false }
}

$build = if ($Cpu) { "cpu" } elseif ($Cuda) { "default" } elseif (Test-NvidiaDriver) { "default" } else { "cpu" }
if (-not $Cpu -and -not $Cuda) {
    if ($build -eq "cpu") { Say "no NVIDIA driver (no nvidia-smi): the CPU-only torch from $CpuIndex" }
    else { Say "an NVIDIA driver is present: the default torch build, with CUDA" }
}

if (-not (Invoke-Step $Python @("-m", "venv", $Venv))) { throw "could not make the venv $Venv" }
if ($build -eq "cpu") {
    if ($DryRun) {
        Invoke-Step $Pip @("install", "--index-url", $CpuIndex, "torch", "torchvision") | Out-Null
        Say "(when that index cannot be reached, the next command installs the default torch instead)"
    } elseif (-not (Test-CpuIndex)) {
        Say "PyTorch's CPU index ($CpuIndex) cannot be reached, so torch comes from your default index."
    } elseif (-not (Invoke-Step $Pip @("install", "--index-url", $CpuIndex, "torch", "torchvision"))) {
        Say "the CPU-only torch did not install from $CpuIndex, so torch comes from your default index."
    }
}
if (-not (Invoke-Step $Pip @("install", $Target))) { throw "pip could not install $Target" }
if (-not $DryRun) {
    Say "done: start segcam with $Venv\Scripts\segcam.exe, check this machine with $Venv\Scripts\segcam.exe doctor"
}
