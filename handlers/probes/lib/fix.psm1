# wsusbot-lib: fix v1
# Helpers for the fix probes only, so that no read-only probe even carries code that
# changes a host.

function Start-WsusbotService {
    # 'net start' through ServiceController, waiting until it reports Running
    param([string]$Name, $Log, [int]$Seconds = 120)
    $controller = New-Object System.ServiceProcess.ServiceController $Name
    try {
        if ($controller.Status -eq [System.ServiceProcess.ServiceControllerStatus]::Running) {
            [void]$Log.Add("$Name is already running")
            return $false
        }
        if ($controller.Status -ne [System.ServiceProcess.ServiceControllerStatus]::StartPending) { $controller.Start() }
        $controller.WaitForStatus([System.ServiceProcess.ServiceControllerStatus]::Running, (New-TimeSpan -Seconds $Seconds))
        [void]$Log.Add("started $Name")
        return $true
    } finally { $controller.Close() }
}

function Stop-WsusbotService {
    # 'net stop' through ServiceController, waiting until it reports Stopped
    param([string]$Name, $Log, [int]$Seconds = 120)
    $controller = New-Object System.ServiceProcess.ServiceController $Name
    try {
        if ($controller.Status -eq [System.ServiceProcess.ServiceControllerStatus]::Stopped) {
            [void]$Log.Add("$Name was not running")
            return $false
        }
        if ($controller.Status -ne [System.ServiceProcess.ServiceControllerStatus]::StopPending) { $controller.Stop() }
        $controller.WaitForStatus([System.ServiceProcess.ServiceControllerStatus]::Stopped, (New-TimeSpan -Seconds $Seconds))
        [void]$Log.Add("stopped $Name")
        return $true
    } finally { $controller.Close() }
}

function Test-WsusbotDifferent {
    param($Before, $After)
    return ((ConvertTo-WsusbotJson $Before) -ne (ConvertTo-WsusbotJson $After))
}

function Exit-WsusbotFailure {
    param([string]$Reason)
    [Console]::Error.WriteLine($Reason)
    [Console]::Error.Flush()
    # the stager reads this when 'exit' only leaves its script block
    $global:WsusbotExitCode = 1
    exit 1
}

function Invoke-WsusbotFixMain {
    # a fix fills $result as it goes and throws when it cannot complete: the document is
    # still written (with what did change), then the reason goes to stderr and exit is 1
    param([string]$Name, [string]$FixId, [string]$ParamsJson)
    $result = New-WsusbotMap
    $result['fix'] = $FixId
    $result['changed'] = $false
    $result['before'] = New-WsusbotMap
    $result['after'] = New-WsusbotMap
    $result['log'] = New-WsusbotList
    $failure = $null
    try {
        $ErrorActionPreference = 'Stop'
        $parsed = ConvertFrom-WsusbotJson $ParamsJson
        $null = & "Invoke-WsusbotProbe_$Name" $parsed $result
    } catch {
        $failure = Get-WsusbotErrorMessage $_
        [void]$result['log'].Add('failed: ' + $failure)
    }
    Write-WsusbotDocument $result
    if ($null -ne $failure) { Exit-WsusbotFailure ("${FixId}: " + $failure) }
}
