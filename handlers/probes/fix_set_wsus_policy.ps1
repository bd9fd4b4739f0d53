# wsusbot-probe: fix_set_wsus_policy v1
# Fix client.set_wsus_policy: WUServer / WUStatusServer = the inventory's WSUS URLs and
# AU\UseWUServer = 1 under HKLM\SOFTWARE\Policies\Microsoft\Windows\WindowsUpdate, and
# AU\NoAutoUpdate removed. Domain Group Policy rewrites these keys at its next refresh
# unless the GPO is fixed too. Params: wsus_url (string), status_url (string).

function Invoke-WsusbotProbe_fix_set_wsus_policy {
    param($P, $Result)
    $policyKey = 'SOFTWARE\Policies\Microsoft\Windows\WindowsUpdate'
    $auKey = $policyKey + '\AU'

    function Read-PolicyState {
        $state = New-WsusbotMap
        $state['WUServer'] = Get-WsusbotRegValue $policyKey 'WUServer'
        $state['WUStatusServer'] = Get-WsusbotRegValue $policyKey 'WUStatusServer'
        $state['UseWUServer'] = Get-WsusbotRegValue $auKey 'UseWUServer'
        $state['NoAutoUpdate'] = Get-WsusbotRegValue $auKey 'NoAutoUpdate'
        return ,$state
    }

    function Get-HttpUrl {
        # refuse anything but an absolute http(s) URL before touching the registry
        param([string]$Name)
        $text = [string](Get-WsusbotParam $P $Name)
        $uri = $null
        if (-not [System.Uri]::TryCreate($text, [System.UriKind]::Absolute, [ref]$uri) -or
            ($uri.Scheme -ne 'http' -and $uri.Scheme -ne 'https') -or $text -match '[\s"]') {
            throw "parameter $Name is not an http(s) URL"
        }
        return $text.TrimEnd('/')
    }

    $wsusUrl = Get-HttpUrl 'wsus_url'
    $statusUrl = Get-HttpUrl 'status_url'
    $Result['before'] = Read-PolicyState

    $key = [Microsoft.Win32.Registry]::LocalMachine.CreateSubKey($policyKey)
    try {
        $key.SetValue('WUServer', $wsusUrl, [Microsoft.Win32.RegistryValueKind]::String)
        $key.SetValue('WUStatusServer', $statusUrl, [Microsoft.Win32.RegistryValueKind]::String)
    } finally { $key.Close() }
    [void]$Result['log'].Add("set WUServer = $wsusUrl, WUStatusServer = $statusUrl")
    $key = [Microsoft.Win32.Registry]::LocalMachine.CreateSubKey($auKey)
    try {
        $key.SetValue('UseWUServer', 1, [Microsoft.Win32.RegistryValueKind]::DWord)
        [void]$Result['log'].Add('set AU\UseWUServer = 1')
        if ($null -ne $key.GetValue('NoAutoUpdate', $null)) {
            $key.DeleteValue('NoAutoUpdate', $false)
            [void]$Result['log'].Add('deleted AU\NoAutoUpdate')
        }
    } finally { $key.Close() }
    $Result['after'] = Read-PolicyState
    $Result['changed'] = Test-WsusbotDifferent $Result['before'] $Result['after']
    [void]$Result['log'].Add('Group Policy refresh overwrites these values unless the GPO sets the same')
}
