# wsusbot-probe: iis_log v1
# Incremental read of the IIS W3C logs (docs/probes.md, "iis_log: incremental reads";
# wsusbot.iis_log/1). Read-only: log files are opened for reading with FileShare.ReadWrite
# because IIS keeps the current one open for writing; nothing is written.
# Params: log_dir (string or null = the log folder of the started port-80 site),
# cursor ({file, offset} or null), max_bytes (int: log bytes read per call, all files).

function Invoke-WsusbotProbe_iis_log {
    param($P, $Doc, $Errors)

    # Latin-1 maps each byte to one char and back, so string indexes are byte offsets;
    # lines that are kept are decoded again as UTF-8 (IIS 7+ logs in UTF-8)
    $latin1 = [System.Text.Encoding]::GetEncoding(28591)
    $utf8 = New-Object System.Text.UTF8Encoding $false
    $chunkSize = 1048576
    # request lines on the self-update paths, and every #Fields directive, in file order
    $candidates = New-Object System.Text.RegularExpressions.Regex '(?im)^(?:#Fields:[^\n]*|[^#\n][^\n]*?(?:/wutrack\.bin|/selfupdate/|/iuident\.cab|/clientwebservice/)[^\n]*)'
    $prefixes = @('/wutrack.bin', '/selfupdate/', '/iuident.cab', '/ClientWebService/')

    function Open-Log {
        param([string]$Path)
        return New-Object System.IO.FileStream $Path, ([System.IO.FileMode]::Open), ([System.IO.FileAccess]::Read), ([System.IO.FileShare]'ReadWrite, Delete')
    }

    function Read-Bytes {
        param($Stream, [long]$At, [int]$Count)
        [void]$Stream.Seek($At, [System.IO.SeekOrigin]::Begin)
        $buffer = New-Object byte[] $Count
        $read = 0
        while ($read -lt $Count) {
            $got = $Stream.Read($buffer, $read, $Count - $read)
            if ($got -le 0) { break }
            $read += $got
        }
        if ($read -lt $Count) {
            $short = New-Object byte[] $read
            [System.Array]::Copy($buffer, $short, $read)
            return ,$short
        }
        return ,$buffer
    }

    function Get-StemIndex {
        # position of cs-uri-stem among the fields a '#Fields:' directive names; -1 if absent
        param([string]$Directive)
        $names = $Directive.Substring(8).Trim().Split(' ')
        for ($index = 0; $index -lt $names.Length; $index++) {
            if ($names[$index] -eq 'cs-uri-stem') { return $index }
        }
        return -1
    }

    function Find-FieldsDirective {
        # the last '#Fields:' line that starts before $Offset, searched backwards chunk by
        # chunk (the nearest is usually close; a GB-sized file is never read whole for it)
        param($Stream, [long]$Offset)
        $marker = "`n" + '#Fields:'
        $end = $Offset
        $later = ''
        while ($end -gt 0) {
            $begin = [Math]::Max([long]0, $end - $chunkSize)
            $bytes = Read-Bytes $Stream $begin ([int]($end - $begin))
            # $later: the first bytes of the chunk after this one, so a marker across the
            # boundary is still seen
            $text = $latin1.GetString($bytes) + $later
            $found = -1
            $index = $text.LastIndexOf($marker, [System.StringComparison]::Ordinal)
            if ($index -ge 0) { $found = $begin + $index + 1 }
            elseif ($begin -eq 0 -and $text.StartsWith('#Fields:', [System.StringComparison]::Ordinal)) { $found = 0 }
            if ($found -ge 0) {
                $line = Read-Bytes $Stream $found ([int][Math]::Min([long]65536, $Offset - $found))
                $lineText = $latin1.GetString($line)
                $newline = $lineText.IndexOf("`n")
                if ($newline -ge 0) { $lineText = $lineText.Substring(0, $newline) }
                return $utf8.GetString($latin1.GetBytes($lineText.TrimEnd("`r")))
            }
            $later = $text.Substring(0, [Math]::Min(16, $text.Length))
            $end = $begin
        }
        return $null
    }

    function Test-SelfUpdateLine {
        # without a #Fields directive in force no field is known to be cs-uri-stem
        param([string]$Line, [int]$StemIndex)
        if ($StemIndex -lt 0) { return $false }
        $fields = $Line.Split(' ')
        if ($StemIndex -ge $fields.Length) { return $false }
        foreach ($prefix in $prefixes) {
            if ($fields[$StemIndex].StartsWith($prefix, [System.StringComparison]::OrdinalIgnoreCase)) { return $true }
        }
        return $false
    }

    function Read-LogFile {
        # reads [$Start, $Start + $Budget) of one file and keeps the wanted lines; returns
        # @(offset after the last full line, bytes read, whether that offset is the end)
        param([string]$Path, [long]$Start, [long]$Budget, $Lines)
        $stream = Open-Log $Path
        try {
            $size = $stream.Length
            # smaller than the cursor: the file was truncated or replaced, read it again
            if ($Start -gt $size) { $Start = 0 }
            $stemIndex = -1
            # the directive matters only when something is read after it
            if ($Start -gt 0 -and $Start -lt $size -and $Budget -gt 0) {
                $directive = Find-FieldsDirective $stream $Start
                if ($null -ne $directive) {
                    [void]$Lines.Add($directive)
                    $stemIndex = Get-StemIndex $directive
                }
            }
            $limit = [Math]::Min($size, $Start + $Budget)
            $position = $Start
            $complete = $Start
            $carry = New-Object byte[] 0
            while ($position -lt $limit) {
                $chunk = Read-Bytes $stream $position ([int][Math]::Min([long]$chunkSize, $limit - $position))
                if ($chunk.Length -eq 0) { break }
                $position += $chunk.Length
                $data = New-Object byte[] ($carry.Length + $chunk.Length)
                [System.Array]::Copy($carry, 0, $data, 0, $carry.Length)
                [System.Array]::Copy($chunk, 0, $data, $carry.Length, $chunk.Length)
                $last = [System.Array]::LastIndexOf($data, [byte]10)
                if ($last -lt 0) { $carry = $data; continue }
                $complete += $last + 1
                $carry = New-Object byte[] ($data.Length - $last - 1)
                [System.Array]::Copy($data, $last + 1, $carry, 0, $carry.Length)
                $text = $latin1.GetString($data, 0, $last + 1)
                foreach ($match in $candidates.Matches($text)) {
                    $line = $match.Value.TrimEnd("`r")
                    if ($line.StartsWith('#Fields:', [System.StringComparison]::Ordinal)) {
                        [void]$Lines.Add($utf8.GetString($latin1.GetBytes($line)))
                        $stemIndex = Get-StemIndex $line
                    } elseif (Test-SelfUpdateLine $line $stemIndex) {
                        [void]$Lines.Add($utf8.GetString($latin1.GetBytes($line)))
                    }
                }
            }
            return @($complete, ($position - $Start), ($complete -ge $size))
        } finally { $stream.Close() }
    }

    function Get-DefaultLogDir {
        # problems reading other IIS settings are server_facts' to report, not this probe's
        $site = Find-WsusbotPort80Site (Get-WsusbotIisSites (New-WsusbotList))
        if ($null -eq $site) { throw 'no started IIS site is bound to http port 80; pass log_dir' }
        return $site['log_dir']
    }

    $logDir = Get-WsusbotParam $P 'log_dir'
    $Doc['log_dir'] = $null
    $Doc['files'] = $null
    $Doc['lines'] = $null
    $Doc['cursor'] = $null
    $cursorIn = Get-WsusbotParam $P 'cursor'
    $cursorFile = $null
    $cursorOffset = [long]0
    if ($cursorIn -is [System.Collections.IDictionary]) {
        $cursorFile = Get-WsusbotParam $cursorIn 'file'
        $offsetIn = Get-WsusbotParam $cursorIn 'offset'
        if ($null -ne $offsetIn) { $cursorOffset = [long]$offsetIn }
        if ($cursorOffset -lt 0) { $cursorOffset = 0 }
        if ($cursorFile) {
            $same = New-WsusbotMap
            $same['file'] = [string]$cursorFile
            $same['offset'] = $cursorOffset
            $Doc['cursor'] = $same
        }
    }
    $budget = Get-WsusbotParam $P 'max_bytes'
    if ($null -eq $budget) { $budget = 4194304 }
    $budget = [long]$budget

    if (-not $logDir) {
        try { $logDir = Get-DefaultLogDir } catch { Add-WsusbotError $Errors 'log_dir' $_; return }
    }
    $Doc['log_dir'] = [string]$logDir

    # *.log sorted by name: IIS names files by date (exYYMMDD.log, u_exYYMMDD.log)
    $infos = New-WsusbotList
    $paths = $null
    try { $paths = [System.IO.Directory]::GetFiles($logDir, '*.log') } catch { Add-WsusbotError $Errors 'files' $_; return }
    foreach ($path in $paths) {
        # the *.log pattern also matches longer extensions (8.3 names): keep .log only
        if ($path.EndsWith('.log', [System.StringComparison]::OrdinalIgnoreCase)) { [void]$infos.Add((New-Object System.IO.FileInfo $path)) }
    }
    $names = New-Object 'string[]' $infos.Count
    $sorted = New-Object 'System.IO.FileInfo[]' $infos.Count
    for ($index = 0; $index -lt $infos.Count; $index++) { $names[$index] = $infos[$index].Name; $sorted[$index] = $infos[$index] }
    [System.Array]::Sort($names, $sorted, [System.StringComparer]::OrdinalIgnoreCase)
    $files = New-WsusbotList
    foreach ($info in $sorted) {
        $entry = New-WsusbotMap
        $entry['name'] = $info.Name
        $entry['size'] = [long]$info.Length
        [void]$files.Add($entry)
    }
    $Doc['files'] = $files

    # which files, from where: after the cursor's file from 0, the cursor's file from its
    # offset; with no cursor only the newest file
    $plan = New-WsusbotList
    if ($cursorFile) {
        foreach ($info in $sorted) {
            $order = [string]::Compare($info.Name, [string]$cursorFile, [System.StringComparison]::OrdinalIgnoreCase)
            if ($order -lt 0) { continue }
            $start = [long]0
            if ($order -eq 0) { $start = $cursorOffset }
            [void]$plan.Add(@($info, $start))
        }
    } elseif ($sorted.Length -gt 0) {
        [void]$plan.Add(@($sorted[$sorted.Length - 1], [long]0))
    }

    $lines = New-WsusbotList
    foreach ($step in $plan) {
        if ($budget -le 0) { break }
        $info = $step[0]
        try {
            $result = Read-LogFile $info.FullName $step[1] $budget $lines
        } catch {
            # stop here so the cursor never moves past a file that was not read
            Add-WsusbotError $Errors ('iis_log.' + $info.Name) $_
            break
        }
        $budget -= $result[1]
        $cursor = New-WsusbotMap
        $cursor['file'] = $info.Name
        $cursor['offset'] = [long]$result[0]
        $Doc['cursor'] = $cursor
        # bytes left in this file (the budget ran out, or IIS is mid-line): the next call
        # resumes here, so no later file may move the cursor past them
        if (-not $result[2]) { break }
    }
    $Doc['lines'] = $lines
}
